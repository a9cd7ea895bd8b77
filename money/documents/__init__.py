"""Documents and exports of money: invoice and credit note PDFs with a signed QR seal, the e-fapiao JSON export,
monthly statements (JSON, PDF, CSV, XLSX) and XLSX lists of invoices and payments.

Everything here reads; nothing writes money. The figures come from the invoices, charges and ledger that
money's services wrote (docs/EFAPIAO.md describes the export).
"""
