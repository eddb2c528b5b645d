"""Local services MKD starts for the demo and the tests: SeaweedFS S3 and a Ray cluster on loopback."""
