# Restore drills: a backup nobody restores is a hope. Every week one
# archive of each application from the last 30 days is restored into a
# scratch database on its own server and a scratch folder, and compared
# with what its manifest recorded; the console's database once a month.

drill "weekly" {
  every        = "7d"
  applications = [application.daily, application.LEGACY, measurement.health]
  window       = "30d"
}

drill "monthly" {
  every        = "30d"
  applications = [persistence.console]
}
