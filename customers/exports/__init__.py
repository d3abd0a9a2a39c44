"""Customer export (spec 2.8.1): the fields one may choose, the file writers, the service, and
the PDF of one customer's detail (spec 2.1.4)."""
