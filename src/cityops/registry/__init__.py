"""The registry (一组库): departments, staff and city components (部件)."""
