# The backups of one CAST AIP node on Windows: its applications in CAST
# Storage Service, and the node's own H2 database, copied while the node's
# service is stopped. Archives go to a folder of the node. See README.md for
# the scheduled task that runs `planb apply --auto-approve` every night.

variable "css_password" {
  type        = string
  sensitive   = true
  description = "Password of the CAST Storage Service user (a --var-file kept from other users, or PLANB_VAR_css_password)."
}

variable "node_service" {
  type        = string
  description = "Name of the node's Windows service, as `sc.exe query` lists it."
  default     = "AipNode"
}

locals {
  # %PROGRAMDATA% (C:\ProgramData), where the node keeps its data.
  programdata = env("PROGRAMDATA") != "" ? env("PROGRAMDATA") : "C:/ProgramData"
  node_home   = "${local.programdata}/AipConsole/AipNode"
}

database "css" {
  host     = "localhost"
  port     = 2284
  user     = "operator"
  password = var.css_password
  dbname   = "postgres"
  # pg_dump.exe and pg_restore.exe are looked up in PATH, then in
  # C:\Program Files\PostgreSQL\<version>\bin and
  # C:\Program Files\CAST\CastStorageService<version>\bin. To choose one:
  # bin_dir = "C:/Program Files/CAST/CastStorageService4/bin"
}

store "node" {
  local {
    path = "${local.node_home}/backup"
  }
}

retention "standard" {
  keep_last  = 3
  keep_daily = 7
}

application "MAINFRAME" {
  database = database.css
  schemas = {
    management = "mainframe_mngt"
    dashboard  = "mainframe_central"
    analysis   = "mainframe_local"
  }
  delivery_folder = "${local.node_home}/delivery/MAINFRAME"
  every           = "24h"
  retention       = retention.standard
  stores          = [store.node]
}

# The node keeps its state in a file-based H2 database, consistent only while
# the node is stopped. service.cmd stops and starts the service with sc.exe
# and waits until it is STOPPED or RUNNING (sc.exe alone only asks).
persistence "node" {
  path      = "${local.node_home}/data"
  every     = "24h"
  retention = retention.standard
  stores    = [store.node]

  before {
    command = ["cmd.exe", "/d", "/c", "service.cmd", "stop", var.node_service]
    dir     = "."
    timeout = "5m"
  }
  after {
    command = ["cmd.exe", "/d", "/c", "service.cmd", "start", var.node_service]
    dir     = "."
    timeout = "5m"
  }
}
