"""SAMR (State Administration for Market Regulation) food-safety collaboration platform: business ledgers."""
