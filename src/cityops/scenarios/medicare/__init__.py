"""智慧医保 smart medical insurance: 渝药易购 (search, compare, order and pay from the personal
account), DRG/DIP grouping and payment (按疾病分组付费), so far.

Pure logic (``icd``, ``records``, ``drg_tables``, ``drg_loader``, ``grouper``, ``payment``,
``dip``, ``codes``, ``offers``, ``paysplit``) needs no database; services and APIs put it behind
HTTP. Facts and their evidence are in /work/shared/reference/medical-insurance.md; see
docs/medicare.md.
"""
