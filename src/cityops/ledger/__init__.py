"""One ledger (一本账): an append-only, hash-chained account of everything the city did."""
