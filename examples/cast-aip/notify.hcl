# Notifications: the healthchecks.io check of the nightly apply is pinged
# when a run starts and when it ends (URL/fail on a failure), so a run that
# failed, hung or never started raises the check's alarm. The ping URL is a
# credential: it comes from a sensitive variable (PLANB_VAR_healthchecks_url),
# and planb shows at most its host. Manual runs: planb apply --no-notify.

variable "healthchecks_url" {
  type        = string
  sensitive   = true
  description = "Ping URL of the healthchecks.io check of the nightly apply, such as https://hc-ping.com/<uuid>"
}

notify "nightly" {
  healthchecks { url = var.healthchecks_url }
}
