"""Operations: topics, subscriptions, samples and the operator CLI."""
