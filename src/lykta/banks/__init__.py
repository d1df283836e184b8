"""Banks (hash lists), their content, import/export formats and the matcher that serves them."""
