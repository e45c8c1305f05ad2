"""The unified case system (一网统管): every problem becomes one case, from report to evaluation."""
