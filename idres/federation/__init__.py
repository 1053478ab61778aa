"""Federation between nodes: upstream registration, referral and recursive resolution."""
