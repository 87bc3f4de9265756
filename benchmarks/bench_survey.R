# R `survey` peer of the sipas benchmarks (called by bench_estimation.py and
# bench_weighting.py; runnable alone).
#
#   Rscript benchmarks/bench_survey.R estimation DATA.csv REPEAT a,b,c,d
#   Rscript benchmarks/bench_survey.R rake DATA.csv REPEAT MARGINS.csv
#
# DATA.csv is the CSV copy of the synthetic Parquet (benchmarks/synthetic.py --csv), read with
# data.table::fread when available (read.csv otherwise). Times are system.time()[["elapsed"]]
# inside R, best of REPEAT (a repeat is skipped once one run took more than 60 s). Memory:
# R's own heap peak during the task, gc(reset = TRUE) then the "max used" column of gc().
# Each result is one JSON line on stdout.

args <- commandArgs(trailingOnly = TRUE)
mode <- args[1]
csv <- args[2]
reps <- as.integer(args[3])
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "fail")

t_load <- system.time({
  df <- if (requireNamespace("data.table", quietly = TRUE)) {
    as.data.frame(data.table::fread(csv, showProgress = FALSE))
  } else {
    read.csv(csv)
  }
})[["elapsed"]]
items <- sprintf("q%02d", 1:22)
sat <- paste0("s_", items)
for (k in seq_along(items)) df[[sat[k]]] <- as.numeric(df[[items[k]]] >= 4)  # NA stays NA
frame_mib <- as.numeric(object.size(df)) / 2^20

t_design <- system.time(
  des <- svydesign(ids = ~commune, strata = ~province, weights = ~w, data = df)
)[["elapsed"]]

heap_mib <- function() sum(gc()[, 6])  # "max used" (Mb) of Ncells + Vcells

timeit <- function(fn) {
  times <- c()
  out <- NULL
  peak <- 0
  for (i in seq_len(reps)) {
    invisible(gc(reset = TRUE))
    times <- c(times, system.time(out <- fn())[["elapsed"]])
    peak <- max(peak, heap_mib())
    if (times[length(times)] > 60) break
  }
  list(times = times, out = out, peak = peak)
}

emit <- function(task, res, est, se, extra = "") {
  cat(sprintf(paste0('{"engine":"R","task":"%s","best_s":%.6f,"times":[%s],"est":%.12g,',
                     '"se":%.12g,"r_heap_peak_mib":%.1f,"frame_mib":%.1f,"load_s":%.3f,',
                     '"design_s":%.3f%s}\n'),
              task, min(res$times), paste(sprintf("%.6f", res$times), collapse = ","),
              est, se, res$peak, frame_mib, t_load, t_design, extra))
}

if (mode == "estimation") {
  tasks <- strsplit(args[4], ",")[[1]]
  if ("a" %in% tasks) {
    # one svymean per item: svymean(~a+b, na.rm=TRUE) would drop rows missing ANY item
    res <- timeit(function() lapply(sat, function(v)
      svymean(as.formula(paste0("~", v)), des, na.rm = TRUE)))
    emit("a", res, coef(res$out[[1]])[[1]], SE(res$out[[1]])[[1]])
  }
  if ("b" %in% tasks) {
    res <- timeit(function() svyby(~s_q01, ~province, des, svymean, na.rm = TRUE))
    emit("b", res, coef(res$out)[[1]], SE(res$out)[[1]])
  }
  if ("c" %in% tasks) {
    res <- timeit(function() lapply(sat, function(v)
      svyby(as.formula(paste0("~", v)), ~province, des, svymean, na.rm = TRUE)))
    emit("c", res, coef(res$out[[1]])[[1]], SE(res$out[[1]])[[1]])
  }
  if ("d" %in% tasks) {
    split <- c()
    res <- timeit(function() {
      set.seed(1)
      t1 <- system.time(rep <- as.svrepdesign(des, type = "subbootstrap",
                                              replicates = 200))[["elapsed"]]
      t2 <- system.time(out <- svyby(~q01, ~province, rep, svymean, na.rm = TRUE))[["elapsed"]]
      split <<- rbind(split, c(t1, t2))
      out
    })
    emit("d", res, coef(res$out)[[1]], SE(res$out)[[1]],
         sprintf(',"d_create_s":%.4f,"d_estimate_s":%.4f', min(split[, 1]), min(split[, 2])))
  }
} else if (mode == "rake") {
  m <- read.csv(args[4])
  vars <- c("sex", "age_group", "ethnicity", "province")
  pops <- lapply(vars, function(v) {
    sub <- m[m$variable == v, ]
    d <- data.frame(sub$level, sub$total)
    names(d) <- c(v, "Freq")
    d
  })
  forms <- lapply(vars, function(v) as.formula(paste0("~", v)))
  res <- timeit(function() rake(des, forms, pops,
                                control = list(maxit = 100, epsilon = 1e-8, verbose = FALSE)))
  w <- weights(res$out)
  misfit <- max(sapply(seq_along(vars), function(k) {
    got <- tapply(w, df[[vars[k]]], sum)
    tgt <- pops[[k]]$Freq[match(names(got), as.character(pops[[k]][[1]]))]
    max(abs(got - tgt) / tgt)
  }))
  emit("rake", res, sum(w), misfit, sprintf(',"max_rel_misfit":%.3g', misfit))
}
