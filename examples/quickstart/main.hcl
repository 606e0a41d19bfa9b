# The smallest useful planb configuration: one PostgreSQL server (CAST
# Storage Service), one local folder for the archives and one application
# with its three schemas. Run `planb plan` in this folder to see what a
# backup would do, `planb apply` to take it.

variable "css_password" {
  type        = string
  sensitive   = true
  description = "Password of the CAST Storage Service user (or set PLANB_VAR_css_password)."
}

database "css" {
  host     = "localhost"
  port     = 2284
  user     = "operator"
  password = var.css_password
}

store "local" {
  local {
    path = "/var/backups/aip"
  }
}

application "MYAPP" {
  database = database.css
  schemas = {
    management = "myapp_mngt"
    dashboard  = "myapp_central"
    analysis   = "myapp_local"
  }
  delivery_folder = "/data/aip/delivery/MYAPP"
}
