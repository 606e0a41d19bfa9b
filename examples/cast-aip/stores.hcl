# Archives go to the backup node's disk and, for the fleet, to an
# S3-compatible bucket that every node shares as one catalog, encrypted.

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
  # Archives leave the site encrypted: the bucket holds age files only the
  # listed keys open. Backup nodes need only these public keys; hosts that
  # restore, verify or drill also set age_identity_file (docs/SECURITY.md).
  encryption {
    recipients    = concat(var.offsite_recipients, [file("keys/escrow.pub")])
    identity_file = var.age_identity_file
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
