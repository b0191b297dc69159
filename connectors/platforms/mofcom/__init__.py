"""MOFCOM's 肉菜流通追溯 platform: daily JSON Lines exports of slaughterhouse, wholesale market and stall records."""
