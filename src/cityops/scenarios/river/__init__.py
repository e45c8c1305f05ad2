"""智慧河长 smart river chief: water quality by GB 3838-2002 and black-odorous grading."""
