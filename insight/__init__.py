"""Customer insight for the sales business: account managers and the responsibility ladder, the dormant-customer
radar, visits proved by a signed code at the customer's site, and the sales and delivery reports.

It reads every domain and is imported by nobody but the composition root (api/)."""
