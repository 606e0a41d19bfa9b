# A CAST AIP estate: the applications of the analysis server, the Health
# Dashboard measurement schema, the console's persistence database and the
# H2 database of an analysis node.

planb {
  parallelism = 4
}

locals {
  delivery_root = "/data/aip/delivery"
  # The standard exclusions of the delivery manager.
  exclusions = ["**/test/**", "**/node_modules/**", "**/*.min.js"]
}

database "css" {
  host     = "css.aip.example.com"
  port     = 2284
  user     = "operator"
  password = var.css_password
  sslmode  = "require"
  bin_dir  = "/usr/lib/postgresql/15/bin"
}

database "console" {
  host     = database.css.host
  port     = 2285
  user     = "operator"
  password = var.css_password
  dbname   = "aip_config"
  sslmode  = "require"
}
