# Node B: the second CAST Storage Service of the estate.
node     = "node-b"
css_host = "css-b.aip.internal"
applications = {
  WEBSHOP = "webshop"
  CRM     = "crm"
}
