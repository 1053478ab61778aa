"""HTTP views: parse input, call a service, serialize output."""
