"""Operations tools: maintenance (and, later, the log analyzer, the tuner and recovery)."""
