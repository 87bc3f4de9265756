# Reference values for sipas.plan and sipas.small_area (run from the repository root):
#   Rscript tests/oracle/planning/planning_oracle.R
# Inclusion probabilities: R package `sampling` (inclusionprobabilities).
# Fay-Herriot: written here in plain R from Rao & Molina (2015), Small Area Estimation,
# 2nd ed., ch. 6, with explicit matrices and the (restricted) log-likelihood maximised by
# optimize(), not by the Fisher scoring sipas uses; MSE by Prasad-Rao / Datta-Lahiri.
suppressPackageStartupMessages(library(sampling))
here <- "tests/oracle/planning"

# ---- inclusion probabilities --------------------------------------------------------------
cases <- list(
  list(id = "small", x = c(1, 2, 3, 20, 5, 9), n = 3),
  list(id = "recursive", x = c(100, 90, 5, 4, 3, 2, 1, 1, 1, 1), n = 4),
  list(id = "lognormal", x = round(exp(seq(0, 6, length.out = 60) + sin(1:60)), 3), n = 12),
  list(id = "none_certain", x = c(10, 12, 9, 11, 8), n = 2)
)
rows <- do.call(rbind, lapply(cases, function(cs) {
  data.frame(case = cs$id, n = cs$n, unit = seq_along(cs$x), size = cs$x,
             pi = inclusionprobabilities(cs$x, cs$n))
}))
write.csv(rows, file.path(here, "inclusion_probabilities.csv"), row.names = FALSE)

# ---- Fay-Herriot --------------------------------------------------------------------------
fh <- function(y, D, X, method) {
  m <- length(y)
  nll <- function(A) {
    V <- diag(A + D); Vi <- solve(V)
    XtViX <- t(X) %*% Vi %*% X
    beta <- solve(XtViX, t(X) %*% Vi %*% y)
    r <- y - X %*% beta
    ll <- -0.5 * (m * log(2 * pi) + determinant(V)$modulus + t(r) %*% Vi %*% r)
    if (method == "REML") ll <- ll - 0.5 * determinant(XtViX)$modulus
    -as.numeric(ll)
  }
  upper <- 10 * (var(y) + max(D))
  A <- optimize(nll, c(0, upper), tol = 1e-14)$minimum
  # the maximum on the boundary: optimize stops near 0, check the derivative sign there
  if (nll(0) <= nll(A)) A <- 0
  V <- diag(A + D); Vi <- solve(V)
  Q <- solve(t(X) %*% Vi %*% X)
  beta <- Q %*% t(X) %*% Vi %*% y
  gam <- A / (A + D)
  syn <- as.vector(X %*% beta)
  eblup <- syn + gam * (y - syn)
  g1 <- gam * D
  g2 <- (1 - gam)^2 * diag(X %*% Q %*% t(X))
  Vbar <- 2 / sum(1 / (A + D)^2)
  g3 <- D^2 / (A + D)^3 * Vbar
  mse <- g1 + g2 + 2 * g3
  if (method == "ML") {
    b <- -sum(diag(Q %*% t(X) %*% Vi %*% Vi %*% X)) / sum(1 / (A + D)^2)
    mse <- mse - (D / (A + D))^2 * b
  }
  list(A = A, beta = as.vector(beta), eblup = eblup, mse = mse, gamma = gam)
}

out <- list()
for (ds in c("fh_sim", "fh_demo", "fh_zero")) {
  d <- read.csv(file.path(here, paste0(ds, ".csv")))
  X <- switch(ds, fh_sim = cbind(1, d$x1, d$x2), fh_demo = cbind(1, d$urban),
              fh_zero = cbind(1, d$x1))
  for (method in c("REML", "ML")) {
    f <- fh(d$estimate, d$se^2, X, method)
    out[[length(out) + 1]] <- data.frame(data = ds, method = method, area = d$area,
                                         A = f$A, eblup = f$eblup, mse = f$mse,
                                         gamma = f$gamma)
  }
}
write.csv(do.call(rbind, out), file.path(here, "fay_herriot.csv"), row.names = FALSE)
writeLines(capture.output(sessionInfo()), file.path(here, "sessionInfo.txt"))
