# Taskerman's AWS side: the global queue and its dead-letter queue, and one IAM policy per role.
# A module: the caller configures the aws provider (region, credentials) and instantiates it once per
# region that runs a router.
terraform {
  # 1.3: optional object attributes and lifecycle preconditions.
  required_version = ">= 1.3.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}
