# Lonely PSUs beyond the public cases: second-stage singletons (R survey 4.1-1) and the
# stage-1 'adjust' centring of R >= 4.3 (survey 4.5 built from CRAN source), which sipas
# gives with lonely_corrected=True.
# Run: Rscript lonely_stages.R [LIB_4.5] > lonely_stages.json
#   without LIB_4.5 only the 4.1-1 values are written ("r45" stays empty).
# Data: ../models/apiclus2.csv, with fpc2s = fpc2 except 4 where fpc2 == 1 (10 districts with
# one sampled school become second-stage singletons instead of census units); weights from
# the fpc (svydesign without weights).
args <- commandArgs(trailingOnly = TRUE)
run <- function(lib) {
  if (is.null(lib)) library(survey) else library(survey, lib.loc = lib)
  here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
  d2 <- read.csv(file.path(here, "..", "models", "apiclus2.csv"))
  d2$fpc2s <- ifelse(d2$fpc2 == 1, 4, d2$fpc2)
  d1 <- read.csv(file.path(here, "..", "models", "apiclus1.csv"))
  out <- list()
  one <- function(id, des, stat, by) {
    f <- if (stat == "mean") svymean else svytotal
    if (is.null(by)) {
      r <- f(~api00, des)
      rows <- list(list(estimate = unname(coef(r)), se = as.numeric(SE(r))))
    } else {
      r <- svyby(~api00, ~stype, des, f)
      rows <- lapply(seq_len(nrow(r)), function(i) list(domain = as.character(r$stype[i]),
        estimate = unname(r$api00[i]), se = unname(r$se[i])))
    }
    out[[id]] <<- rows
  }
  for (rule in c("remove", "certainty", "adjust", "average")) for (dl in c(FALSE, TRUE)) {
    options(survey.lonely.psu = rule, survey.adjust.domain.lonely = dl, survey.use_rcpp = FALSE)
    des2 <- suppressWarnings(svydesign(ids = ~dnum + snum, fpc = ~fpc1 + fpc2s, data = d2))
    des1 <- svydesign(ids = ~dnum, strata = ~region, weights = ~pw, data = d1)
    des1f <- svydesign(ids = ~dnum, strata = ~region, weights = ~pw, fpc = ~fpc_region, data = d1)
    for (stat in c("mean", "total")) for (by in list(NULL, "stype")) {
      tag <- paste(rule, if (dl) "domlonely" else "plain", stat, if (is.null(by)) "all" else "by_stype", sep = "_")
      suppressWarnings(one(paste("clus2", tag, sep = "_"), des2, stat, by))
      suppressWarnings(one(paste("clus1_region", tag, sep = "_"), des1, stat, by))
      suppressWarnings(one(paste("clus1_region_fpc", tag, sep = "_"), des1f, stat, by))
    }
  }
  list(version = as.character(packageVersion("survey", lib.loc = lib)), values = out)
}
r41 <- run(NULL)
r45 <- if (length(args)) local({
  detach("package:survey", unload = TRUE); run(args[1]) }) else NULL
cat(jsonlite::toJSON(list(r41 = r41, r45 = r45), auto_unbox = TRUE, digits = NA, na = "null",
                     pretty = TRUE))
