"""Run l3roam inside a virtual machine with a stock kernel (user-mode Linux)."""
