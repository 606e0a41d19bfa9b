# One configuration for every node of a fleet. Each node runs it with its own
# variable file (nodes/<node>.vars.hcl): which CAST Storage Service it backs
# up and which applications live there. All nodes write to one S3 bucket, so
# every node's `planb list` shows the whole estate, and a second node never
# backs up an application another node is working on (locks live in the
# bucket too).
#
#   planb --var-file nodes/node-a.vars.hcl plan
#
# Credentials of the bucket come from AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials); the database password from
# PLANB_VAR_css_password.

variable "node" {
  type        = string
  description = "Name of this node: archives record it, and its own archives (the persistence database) go below prod/nodes/<node>/."
  default     = "node-a"
}

# Each archive records the node that wrote it; a node leaves the archives of
# other nodes alone and refuses to back up what another node backs up. The
# name comes from the node's variable file, not the host name, so it stays
# the same in containers.
planb {
  node = var.node
}

variable "css_host" {
  type        = string
  description = "Host of this node's CAST Storage Service."
  default     = "localhost"
}

variable "css_password" {
  type        = string
  sensitive   = true
  description = "Password of the operator user (PLANB_VAR_css_password)."
}

variable "applications" {
  type        = map(string)
  description = "Applications of this node: name => schema prefix."
  default = {
    MAINFRAME = "mainframe"
  }
}

variable "s3_endpoint" {
  type        = string
  description = "S3-compatible endpoint shared by the fleet."
  default     = "https://s3.eu-central-1.amazonaws.com"
}

database "css" {
  host     = var.css_host
  port     = 2284
  user     = "operator"
  password = var.css_password
}

store "fleet" {
  # Every node writes here: the archives of other nodes' applications are
  # theirs, not orphans.
  shared = true
  s3 {
    endpoint = var.s3_endpoint
    region   = "eu-central-1"
    bucket   = "aip-fleet"
    prefix   = "prod/"
  }
}

# What only this node has (its persistence database, whose block label is the
# same on every node) goes below a prefix of its own in the same bucket.
store "node" {
  s3 {
    endpoint = var.s3_endpoint
    region   = "eu-central-1"
    bucket   = "aip-fleet"
    prefix   = "prod/nodes/${var.node}/"
  }
}

retention "standard" {
  keep_last    = 3
  keep_daily   = 7
  keep_weekly  = 4
  keep_monthly = 12
}

application "all" {
  for_each = var.applications

  database = database.css
  schemas = {
    management = "${each.value}_mngt"
    dashboard  = "${each.value}_central"
    analysis   = "${each.value}_local"
  }
  every     = "24h"
  retention = retention.standard
  stores    = [store.fleet]
}

persistence "console" {
  database  = database.css
  every     = "24h"
  retention = retention.standard
  stores    = [store.node]
}
