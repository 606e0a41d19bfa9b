# Inputs of the estate. Site values (hosts, folders, the bucket's access
# key) go into a --var-file such as site.vars.hcl (see README.md); secrets
# come from the environment (PLANB_VAR_css_password, PLANB_VAR_s3_secret_key,
# PLANB_VAR_healthchecks_url) or a --var-file that is not committed.
# `planb validate` works without any of them.

variable "css_password" {
  type        = string
  sensitive   = true
  description = "Password of the operator user on both CAST Storage Service instances."
}

variable "css" {
  description = "The CAST Storage Service instance of the applications."
  type = object({
    host    = string
    port    = number
    user    = string
    dbname  = string
    sslmode = string
  })
  default = {
    host    = "css.aip.example.com"
    port    = 2284
    user    = "operator"
    dbname  = "postgres"
    sslmode = "require"
  }
}

variable "offsite" {
  description = "The S3-compatible endpoint of the off-site bucket."
  type = object({
    endpoint = string
    region   = string
    insecure = bool
  })
  default = {
    endpoint = "s3.eu-central-1.amazonaws.com"
    region   = "eu-central-1"
    insecure = false
  }
}

variable "bin_dir" {
  type        = string
  default     = null
  description = "Folder of pg_dump and pg_restore, such as /usr/lib/postgresql/15/bin; null looks in PATH (and, on Windows, the PostgreSQL and CAST Storage Service install folders). pg_dump must not be older than the server."
}

variable "delivery_root" {
  type        = string
  default     = "/data/aip/delivery"
  description = "Folder of the delivery manager: one sub-folder per application."
}

variable "s3_access_key" {
  type        = string
  description = "Access key of the off-site bucket (no default: every site has its own)."
}

variable "s3_secret_key" {
  type        = string
  sensitive   = true
  description = "Secret key of the off-site bucket."
}

variable "offsite_recipients" {
  type        = list(string)
  description = "Public age keys (age1…) of the hosts that may read the off-site archives; the escrow key in keys/escrow.pub is added to them."
}

variable "age_identity_file" {
  type        = string
  default     = null
  description = "Private age key of this host, for restores, verify and drills from the off-site store; unset on nodes that only back up."
}

variable "backup_root" {
  type        = string
  default     = "/var/backups/aip"
  description = "Folder of the local store on the backup node."

  validation {
    condition     = startswith(var.backup_root, "/")
    error_message = "backup_root must be an absolute path."
  }
}

variable "daily_apps" {
  description = "Applications backed up every day: name => schema prefix."
  type        = map(string)
  default = {
    MAINFRAME = "mainframe"
    WEBSHOP   = "webshop"
    BILLING   = "billing"
  }
}
