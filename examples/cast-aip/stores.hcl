# Archives go to the backup node's disk and, for the fleet, to an
# S3-compatible bucket that every node shares as one catalog.

store "node" {
  local {
    path = var.backup_root
  }
}

store "offsite" {
  s3 {
    endpoint   = var.offsite.endpoint
    region     = var.offsite.region
    insecure   = var.offsite.insecure
    bucket     = "aip-backups"
    prefix     = "prod/"
    access_key = var.s3_access_key
    secret_key = var.s3_secret_key
  }
}

retention "standard" {
  keep_last    = 3
  keep_daily   = 7
  keep_weekly  = 4
  keep_monthly = 12
  max_age      = "400d"
}

retention "short" {
  keep_last   = 2
  keep_within = "7d"
}
