"""Money: the only writer of money. One append-only ledger per customer account; balances, invoices, payments
and statements are derived from it. Money knows customer, order and pickup ids, never the orders domain itself
(layering: orders import money, money imports core only)."""
