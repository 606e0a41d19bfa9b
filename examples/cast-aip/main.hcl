# A CAST AIP estate: the applications of the analysis server, the Health
# Dashboard measurement schema, the console's persistence database and the
# H2 database of an analysis node.

planb {
  parallelism = 4
}

locals {
  delivery_root = var.delivery_root
  # The standard exclusions of the delivery manager.
  exclusions = ["**/test/**", "**/node_modules/**", "**/*.min.js"]
}

database "css" {
  host     = var.css.host
  port     = var.css.port
  user     = var.css.user
  password = var.css_password
  dbname   = var.css.dbname
  sslmode  = var.css.sslmode
  bin_dir  = var.bin_dir
}

database "console" {
  host     = database.css.host
  port     = 2285
  user     = var.css.user
  password = var.css_password
  dbname   = "aip_config"
  sslmode  = var.css.sslmode
  bin_dir  = var.bin_dir
}
