output "bucket_name" {
  description = "Name of the artifact bucket (the chart's store.bucket)."
  value       = aws_s3_bucket.store.id
}

output "bucket_arn" {
  description = "ARN of the artifact bucket."
  value       = aws_s3_bucket.store.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the bucket."
  value       = aws_kms_key.store.arn
}

output "store_uri" {
  description = "The MKD store URI (store.uri in the pipeline config)."
  value       = "s3://${aws_s3_bucket.store.id}/${var.store_prefix}"
}
