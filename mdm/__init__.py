"""Master data: golden customers and products, cross-references, matching and survivorship."""
