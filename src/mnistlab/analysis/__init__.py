"""Turning measurements into verdicts: intervals and adjusted p-values (stats), comparisons across
seeds or of one seed's networks (contrasts), published claims judged on our numbers (claims), and the
numbers published solutions reported, with their sources (published)."""
