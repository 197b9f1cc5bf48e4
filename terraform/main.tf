# The queues terraform owns: the global queue (scheduler and on-call users send tasks, routers consume) and
# its dead-letter queue. The per-cluster queues are created by the router on the first fan-out to a cluster
# (core/queue/sqs-work-queue.ts ensureQueue), so here they only have NAMES, for the IAM policies in iam.tf.
#
# The names follow core/queue/queue-names.ts (test/unit/terraform.test.ts evaluates these expressions and compares
# them with the code):
#   global:        <prefix>--global             dead letters: <prefix>--global-dlq
#   cluster queue: <prefix>--c--<segment(cluster, 40)>     dead letters: <cluster queue>-dlq
#   node queue:    <prefix>--n--<segment(cluster, 30)>--<segment(node, 30)>  (dead letters: the cluster's)

locals {
  global_queue_name = "${var.queue_prefix}--global"
  global_dlq_name   = "${var.queue_prefix}--global-dlq"

  # segment(raw, max) of core/queue/queue-names.ts, for max = 40 (cluster queues) and 30 (node queues): a name is
  # kept as is when it is [A-Za-z0-9_]+ and at most max long; otherwise every other character becomes "_",
  # the result is cut to max - 11 characters ("_" if empty), and "-" plus the first 10 hex digits of the
  # sha256 of the original name is appended. Indexed by the max as a string: local.cluster_segments["40"][c].
  cluster_segments = {
    for max in [40, 30] : max => {
      for c in var.clusters : c => (
        can(regex("^[A-Za-z0-9_]+$", c)) && length(c) <= max
        ? c
        : "${coalesce(substr(replace(c, "/[^A-Za-z0-9_]/", "_"), 0, max - 11), "_")}-${substr(sha256(c), 0, 10)}"
      )
    }
  }

  # The code's fit() (cut a name over 76 characters and append a hash) never applies to a cluster queue:
  # prefix (24) + "--c--" (5) + segment (40) is 69 at most. It can apply to a node queue, but only past the
  # 65th character, after "<prefix>--n--<segment30>--" (61 at most): the wildcard below still matches.
  cluster_queue_names = { for c in var.clusters : c => "${var.queue_prefix}--c--${local.cluster_segments["40"][c]}" }
  cluster_dlq_names   = { for c in var.clusters : c => "${local.cluster_queue_names[c]}-dlq" }
  node_queue_patterns = { for c in var.clusters : c => "${var.queue_prefix}--n--${local.cluster_segments["30"][c]}--*" }

  # "arn:<partition>:sqs:<region>:<account>:", taken from the global queue so every ARN below names the same
  # region and account as the queues.
  sqs_arn_prefix = trimsuffix(aws_sqs_queue.global.arn, aws_sqs_queue.global.name)

  kms_enabled = var.kms_master_key_arn != null
}

resource "aws_sqs_queue" "global_dlq" {
  name                              = local.global_dlq_name
  message_retention_seconds         = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled           = local.kms_enabled ? null : true
  kms_master_key_id                 = var.kms_master_key_arn
  kms_data_key_reuse_period_seconds = local.kms_enabled ? var.kms_data_key_reuse_period_seconds : null
  tags                              = var.tags
}

resource "aws_sqs_queue" "global" {
  name                              = local.global_queue_name
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  sqs_managed_sse_enabled           = local.kms_enabled ? null : true
  kms_master_key_id                 = var.kms_master_key_arn
  kms_data_key_reuse_period_seconds = local.kms_enabled ? var.kms_data_key_reuse_period_seconds : null
  tags                              = var.tags

  # The backstop for a router that dies holding a message; a task that can never be routed is dead-lettered
  # by the router itself, with the reason.
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.global_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the global queue may use the global dead-letter queue as its dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "global_dlq" {
  queue_url = aws_sqs_queue.global_dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.global.arn]
  })
}
