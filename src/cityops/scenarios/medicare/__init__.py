"""智慧医保 smart medical insurance (reference: /work/shared/reference/medical-insurance.md)."""
