"""智慧医保 smart medical insurance: DRG/DIP grouping and payment (按疾病分组付费), so far.

Pure logic (``icd``, ``records``, ``drg_tables``, ``drg_loader``, ``grouper``, ``payment``,
``dip``) needs no database; ``service`` and ``api`` put it behind HTTP. Facts and their evidence
are in /work/shared/reference/medical-insurance.md §1–2; see docs/medicare.md.
"""
