# The platform around the applications: the Health Dashboard's
# measurement schema and the persistence databases.

measurement "health" {
  database  = database.css
  schema    = "aip_measure"
  every     = "24h"
  retention = retention.standard
  # Measurement rows point at application snapshots: dump it after them.
  depends_on = [application.daily, application.LEGACY]
}

persistence "console" {
  database  = database.console
  every     = "12h"
  retention = retention.short
}

# The analysis node keeps its state in a file-based H2 database, which is
# only consistent while the node is stopped.
persistence "node1" {
  path      = "/var/lib/aip/node1/h2"
  every     = "24h"
  retention = retention.short
  stores    = [store.node]

  before {
    command = ["systemctl", "stop", "aip-node"]
    timeout = "2m"
  }
  after {
    command = ["systemctl", "start", "aip-node"]
    timeout = "2m"
  }
}
