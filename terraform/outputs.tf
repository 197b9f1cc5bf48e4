output "global_queue_name" {
  description = "Name of the global queue (the CLI derives it from --queue-prefix)."
  value       = aws_sqs_queue.global.name
}

output "global_queue_url" {
  description = "URL of the global queue."
  value       = aws_sqs_queue.global.url
}

output "global_queue_arn" {
  description = "ARN of the global queue."
  value       = aws_sqs_queue.global.arn
}

output "global_dlq_name" {
  description = "Name of the global dead-letter queue."
  value       = aws_sqs_queue.global_dlq.name
}

output "global_dlq_url" {
  description = "URL of the global dead-letter queue."
  value       = aws_sqs_queue.global_dlq.url
}

output "global_dlq_arn" {
  description = "ARN of the global dead-letter queue."
  value       = aws_sqs_queue.global_dlq.arn
}

output "cluster_queues" {
  description = "Per cluster in clusters: the name of its queue and dead-letter queue (created by the router on first use), and the wildcard that matches its node queues."
  value = {
    for c in var.clusters : c => {
      queue              = local.cluster_queue_names[c]
      dead_letter_queue  = local.cluster_dlq_names[c]
      node_queue_pattern = local.node_queue_patterns[c]
    }
  }
}

output "scheduler_policy_arn" {
  description = "ARN of the scheduler policy."
  value       = aws_iam_policy.scheduler.arn
}

output "router_policy_arn" {
  description = "ARN of the router policy."
  value       = aws_iam_policy.router.arn
}

output "operator_policy_arn" {
  description = "ARN of the operator policy (the taskerman CLI)."
  value       = aws_iam_policy.operator.arn
}

output "runner_policy_arns" {
  description = "ARN of each cluster's runner policy, by cluster name."
  value       = { for c, p in aws_iam_policy.runner : c => p.arn }
}

output "scheduler_policy_json" {
  description = "The scheduler policy document, for roles managed elsewhere (inline policies, permission boundaries)."
  value       = data.aws_iam_policy_document.scheduler.json
}

output "router_policy_json" {
  description = "The router policy document."
  value       = data.aws_iam_policy_document.router.json
}

output "operator_policy_json" {
  description = "The operator policy document."
  value       = data.aws_iam_policy_document.operator.json
}

output "runner_policy_json" {
  description = "Each cluster's runner policy document, by cluster name."
  value       = { for c, d in data.aws_iam_policy_document.runner : c => d.json }
}
