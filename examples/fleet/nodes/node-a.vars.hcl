# Node A: the first CAST Storage Service of the estate.
node     = "node-a"
css_host = "css-a.aip.internal"
applications = {
  MAINFRAME = "mainframe"
  BILLING   = "billing"
}
