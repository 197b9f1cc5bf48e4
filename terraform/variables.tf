variable "queue_prefix" {
  description = "Prefix of every queue name; the same value as the CLI's --queue-prefix (TASKERMAN_QUEUE_PREFIX, default taskerman)."
  type        = string
  default     = "taskerman"

  validation {
    # core/queue/queue-names.ts validatePrefix
    condition     = can(regex("^[A-Za-z0-9_]{1,24}$", var.queue_prefix))
    error_message = "The queue_prefix must be 1-24 characters of letters, digits or underscores (it starts every queue name)."
  }
}

variable "clusters" {
  description = "Names of the clusters whose runners get a policy, exactly as task specs and `taskerman runner --cluster` spell them (e.g. cassandra:geo_counter)."
  type        = list(string)
  default     = []

  validation {
    # core/task/task-spec.ts CLUSTER_RE
    condition     = alltrue([for c in var.clusters : can(regex("^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$", c))])
    error_message = "Each cluster name must be 1-200 characters of letters, digits, dots, underscores, colons, at signs or dashes, starting with a letter or digit."
  }
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the global queue, seconds. Keep it equal to the router's (60) so the router's CreateQueue at start finds the queue as it would have made it."
  type        = number
  default     = 60

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "The visibility_timeout_seconds must be 0-43200 (SQS limit)."
  }
}

variable "max_receive_count" {
  description = "Redrive backstop of the global queue: receives before SQS moves a message to the dead-letter queue. Keep it equal to the router's --max-receives (default 10)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "The max_receive_count must be 1-1000 (SQS limit)."
  }
}

variable "message_retention_seconds" {
  description = "How long the global queue keeps a task message nobody routed, seconds (default 4 days, the SQS default)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "The message_retention_seconds must be 60-1209600 (SQS limit)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long the global dead-letter queue keeps a message, seconds (default 14 days, the SQS maximum). It must exceed message_retention_seconds: a dead letter keeps its original enqueue time."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "The dlq_message_retention_seconds must be 60-1209600 (SQS limit)."
  }
}

variable "kms_master_key_arn" {
  description = "ARN of a KMS key to encrypt the global queue and its dead-letter queue with (SSE-KMS). Default null: SQS-managed encryption (SSE-SQS), no KMS permissions needed."
  type        = string
  default     = null
}

variable "kms_data_key_reuse_period_seconds" {
  description = "With kms_master_key_arn: how long SQS reuses a data key before calling KMS again, seconds."
  type        = number
  default     = 300
}

variable "policy_name_prefix" {
  description = "Prefix of the IAM policy names (<prefix>-scheduler, <prefix>-router, <prefix>-operator, <prefix>-runner-<cluster>). Default null: the queue_prefix."
  type        = string
  default     = null

  validation {
    condition     = var.policy_name_prefix == null || can(regex("^[A-Za-z0-9_+=,.@-]{1,64}$", var.policy_name_prefix))
    error_message = "The policy_name_prefix must be 1-64 characters valid in an IAM policy name."
  }
}

variable "policy_path" {
  description = "IAM path of the policies."
  type        = string
  default     = "/"
}

variable "scheduler_role_names" {
  description = "Names of existing IAM roles to attach the scheduler policy to (the scheduler, and submitters that only run `taskerman run`/`submit`; the rest of the CLI needs the operator policy)."
  type        = list(string)
  default     = []
}

variable "router_role_names" {
  description = "Names of existing IAM roles to attach the router policy to."
  type        = list(string)
  default     = []
}

variable "operator_role_names" {
  description = "Names of existing IAM roles to attach the operator policy to: the people and CI that use the taskerman CLI (run, submit, dlq, resume, plan)."
  type        = list(string)
  default     = []
}

variable "runner_role_names" {
  description = "Existing IAM roles to attach a cluster's runner policy to: cluster name (one of clusters) => role names (usually the instance role of that cluster's nodes)."
  type        = map(list(string))
  default     = {}
}

variable "tags" {
  description = "Tags for every queue and policy."
  type        = map(string)
  default     = {}
}
