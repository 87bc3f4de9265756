# R `survey` peer of benchmarks/bench_tables.py (runnable alone):
#
#   Rscript benchmarks/bench_tables.R DATA.csv REPEAT ROW COL
#
# Times svychisq(~ROW + COL, design) (statistic "F", the default: second-order Rao-Scott) and
# "Wald" on svydesign(ids=~commune, strata=~province, weights=~w); best of REPEAT by
# system.time()[["elapsed"]] (a repeat is skipped once one run took more than 120 s). Each
# result is one JSON line on stdout, with R's statistic and p-value for the comparison.

args <- commandArgs(trailingOnly = TRUE)
csv <- args[1]
reps <- as.integer(args[2])
row <- args[3]
col <- args[4]
suppressPackageStartupMessages(library(survey))
df <- if (requireNamespace("data.table", quietly = TRUE)) {
  as.data.frame(data.table::fread(csv, showProgress = FALSE))
} else {
  read.csv(csv)
}
des <- svydesign(ids = ~commune, strata = ~province, weights = ~w, data = df)
f <- as.formula(paste("~", row, "+", col))
for (stat in c("F", "Wald")) {
  times <- c()
  out <- NULL
  for (i in seq_len(reps)) {
    times <- c(times, system.time(out <- svychisq(f, des, statistic = stat))[["elapsed"]])
    if (times[length(times)] > 120) break
  }
  cat(sprintf(paste0('{"engine":"R","task":"chisq_%s","best_s":%.6f,"times":[%s],',
                     '"statistic":%.12g,"p_value":%.12g}\n'),
              stat, min(times), paste(sprintf("%.6f", times), collapse = ","),
              out$statistic, out$p.value))
}
