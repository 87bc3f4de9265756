# R `survey` peer of benchmarks/bench_models.py (runnable alone):
#
#   Rscript benchmarks/bench_models.R DATA.csv REPEAT
#
# Times svyglm() of the two models of bench_models.py (gaussian q01 ~ 8 items + sex +
# province; quasibinomial I(q01 >= 4) ~ the same) on svydesign(ids=~commune,
# strata=~province, weights=~w); best of REPEAT by system.time()[["elapsed"]]. One JSON line
# per model on stdout, with R's coefficient and SE of q02 for the comparison.

args <- commandArgs(trailingOnly = TRUE)
csv <- args[1]
reps <- as.integer(args[2])
suppressPackageStartupMessages(library(survey))
df <- read.csv(csv)
df$sex <- factor(df$sex)
df$province <- factor(df$province)
df$top <- as.numeric(df$q01 >= 4)
des <- svydesign(ids = ~commune, strata = ~province, weights = ~w, data = df)
rhs <- paste(c(sprintf("q%02d", 2:9), "sex", "province"), collapse = " + ")
models <- list(gaussian = list(f = paste("q01 ~", rhs), fam = gaussian()),
               quasibinomial = list(f = paste("top ~", rhs), fam = quasibinomial()))
for (name in names(models)) {
  m <- models[[name]]
  times <- c()
  fit <- NULL
  for (i in seq_len(reps)) {
    times <- c(times, system.time(fit <- svyglm(as.formula(m$f), des,
                                                family = m$fam))[["elapsed"]])
    if (times[length(times)] > 300) break
  }
  cat(sprintf(paste0('{"engine":"R","family":"%s","best_s":%.6f,"coef_q02":%.12g,',
                     '"se_q02":%.12g}\n'),
              name, min(times), coef(fit)[["q02"]], SE(fit)[["q02"]]))
}
