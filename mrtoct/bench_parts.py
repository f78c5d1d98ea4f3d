"""What ``mrtoct bench`` can measure and how long it may take by default: apart from the bench itself, so
that ``mrtoct --help`` lists them without importing torch."""

BUDGET_S = 600.0  # the whole run's default budget: parts that no longer fit are skipped
PARTS = ("denoiser", "translate", "monai", "spine")
