# Applications. Most follow the <prefix>_mngt / _central / _local naming and
# are one for_each block; LEGACY was installed before that convention and
# keeps its uuid-named schemas.

application "daily" {
  for_each = var.daily_apps

  database = database.css
  schemas = {
    management = "${each.value}_mngt"
    dashboard  = "${each.value}_central"
    analysis   = "${each.value}_local"
  }
  delivery_folder = "${local.delivery_root}/${each.key}"

  options {
    source_path        = "/data/aip/sources/${each.key}"
    exclusion_patterns = local.exclusions
    objectives         = ["security", "efficiency", "robustness"]
  }

  every     = "24h"
  retention = retention.standard
  stores    = [store.node, store.offsite]

  # After a restore, copy the application's dashboard snapshots into the
  # Health Dashboard so its history shows the restored state.
  after_restore "sync_measurement" {
    database = database.css
    sql      = <<-SQL
      INSERT INTO aip_measure.dss_snapshots (application_name, snapshot_id, snapshot_name, functional_date, computed_date)
      SELECT '${each.key}', s.snapshot_id, s.snapshot_name, s.functional_date, s.computed_date
        FROM ${each.value}_central.dss_snapshots AS s
       WHERE NOT EXISTS (
             SELECT 1
               FROM aip_measure.dss_snapshots AS m
              WHERE m.application_name = '${each.key}'
                AND m.snapshot_id = s.snapshot_id);
    SQL
  }
}

application "LEGACY" {
  database = database.css
  schemas = {
    management = "uuid7f3c21_mngt"
    dashboard  = "uuid7f3c21_central"
    analysis   = "uuid7f3c21_local"
  }
  delivery_folder = "${local.delivery_root}/LEGACY"

  options {
    exclusion_patterns = concat(local.exclusions, ["**/generated/**"])
    objectives         = ["security"]
    extra = {
      cobol_copybooks = "/data/aip/copybooks"
    }
  }

  every = "168h"
  retention {
    keep_last    = 2
    keep_monthly = 6
  }
  depends_on = [application.daily["MAINFRAME"]]
}
