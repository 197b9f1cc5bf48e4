# One policy per role, each allowing only the SQS calls that role's code makes (core/queue/sqs-work-queue.ts is
# the only SQS caller; test/unit/terraform.test.ts derives the expected actions from it and from which
# queues each role touches, so a new call in code without a change here fails the tests).
#
# Batch calls are authorized by their single-message action: SendMessageBatch needs sqs:SendMessage.

locals {
  policy_name_prefix = coalesce(var.policy_name_prefix, var.queue_prefix)

  # The router works on every cluster, including ones not listed in var.clusters: wildcards on the kind.
  any_cluster_queue_arn = "${local.sqs_arn_prefix}${var.queue_prefix}--c--*"
  any_cluster_dlq_arn   = "${local.sqs_arn_prefix}${var.queue_prefix}--c--*-dlq"
  any_node_queue_arn    = "${local.sqs_arn_prefix}${var.queue_prefix}--n--*"

  runner_attachments = {
    for pair in flatten([
      for cluster, roles in var.runner_role_names : [for role in roles : { cluster = cluster, role = role }]
    ]) : "${pair.cluster}|${pair.role}" => pair
  }
}

# Scheduler (and on-call users running `taskerman run` / `submit`): put tasks on the global queue.
data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "SendTasks"
    effect    = "Allow"
    actions   = ["sqs:GetQueueUrl", "sqs:SendMessage"]
    resources = [aws_sqs_queue.global.arn]
  }

  dynamic "statement" {
    for_each = local.kms_enabled ? [var.kms_master_key_arn] : []
    content {
      sid       = "EncryptTasks"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

# Router: consume the global queue (it also ensures the global queues exist at start, hence CreateQueue and
# GetQueueAttributes there), dead-letter tasks it cannot route, create every cluster's queues with their
# redrive policy, send one work item per node, and discover nodes by EC2 tags. With --metrics-port or
# --notify-url it also reads the depth of the global and dead-letter queues (core/fleet/fleet-scanner.ts:
# ListQueues, GetQueueAttributes).
data "aws_iam_policy_document" "router" {
  statement {
    sid       = "ConsumeTasks"
    effect    = "Allow"
    actions   = ["sqs:ChangeMessageVisibility", "sqs:CreateQueue", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]
    resources = [aws_sqs_queue.global.arn]
  }

  # The dead-letter queues to measure are found by listing "<prefix>--". ListQueues has no resource-level permissions.
  statement {
    sid       = "ListQueuesForDepths"
    effect    = "Allow"
    actions   = ["sqs:ListQueues"]
    resources = ["*"]
  }

  statement {
    sid       = "DeadLetterTasks"
    effect    = "Allow"
    actions   = ["sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]
    resources = [aws_sqs_queue.global_dlq.arn]
  }

  statement {
    sid       = "CreateClusterQueues"
    effect    = "Allow"
    actions   = ["sqs:CreateQueue", "sqs:GetQueueUrl"]
    resources = [local.any_cluster_queue_arn]
  }

  # The redrive policy of a new queue names its dead-letter queue by ARN: GetQueueAttributes reads it.
  # SendMessage: the supervisor dead-letters a target that never got a live runner (router/supervisor.ts).
  statement {
    sid       = "ClusterDeadLetterQueues"
    effect    = "Allow"
    actions   = ["sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]
    resources = [local.any_cluster_dlq_arn]
  }

  statement {
    sid       = "FanOutToNodes"
    effect    = "Allow"
    actions   = ["sqs:CreateQueue", "sqs:GetQueueUrl", "sqs:SendMessage"]
    resources = [local.any_node_queue_arn]
  }

  # discovery: aws_tags (core/discovery/ec2-discovery.ts). DescribeInstances has no resource-level permissions.
  statement {
    sid       = "DiscoverNodes"
    effect    = "Allow"
    actions   = ["ec2:DescribeInstances"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = local.kms_enabled ? [var.kms_master_key_arn] : []
    content {
      sid       = "DecryptTasksEncryptDeadLetters"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

# Runner, one policy per cluster: take work from the cluster's queue and its nodes' queues, dead-letter what
# it gives up on. (Node queues are matched by the cluster's wildcard: a runner can read its peers' queues,
# never another cluster's.) The cluster queues are created by the router, SQS-encrypted: no KMS here.
data "aws_iam_policy_document" "runner" {
  for_each = toset(var.clusters)

  statement {
    sid     = "TakeWork"
    effect  = "Allow"
    actions = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]
    resources = [
      "${local.sqs_arn_prefix}${local.cluster_queue_names[each.key]}",
      "${local.sqs_arn_prefix}${local.node_queue_patterns[each.key]}",
    ]
  }

  statement {
    sid       = "DeadLetterWork"
    effect    = "Allow"
    actions   = ["sqs:GetQueueUrl", "sqs:SendMessage"]
    resources = ["${local.sqs_arn_prefix}${local.cluster_dlq_names[each.key]}"]
  }
}

# Operator: the humans and CI that use the CLI. Only these commands reach AWS (cancel, pause, tasks and gc
# touch ZooKeeper only); none of them creates a queue (no ensureQueue, so no CreateQueue).
#   run, submit:                 send a task to the global queue (core/task/emit.ts emitTask);
#   status of a task with no record yet: read the global queue's message counts (GetQueueAttributes), to say
#                                that the task still waits there for a router rather than "not found";
#   dlq list | show | redrive:   find the dead-letter queues (ListQueues; with --cluster, GetQueueUrl on that
#                                one), read them without consuming (receive, then visibility back to 0), and
#                                for redrive send each message back to its source queue and delete it from
#                                the dead-letter queue (core/queue/dead-letters.ts);
#   dlq purge:                   PurgeQueue on the dead-letter queues in scope;
#   resume:                      send the work items of the nodes a halt skipped to their node queues
#                                (core/task/task-control.ts resumeTask);
#   plan, run --dry-run:         resolve targets, with EC2 DescribeInstances for discovery aws_tags.
data "aws_iam_policy_document" "operator" {
  # run / submit; status of a task not recorded yet (its message counts); dlq redrive of a task the router
  # dead-lettered (its source is the global queue).
  statement {
    sid       = "SendTasks"
    effect    = "Allow"
    actions   = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]
    resources = [aws_sqs_queue.global.arn]
  }

  # dlq list / show / redrive / purge, on the global dead-letter queue and every cluster's.
  statement {
    sid       = "ManageDeadLetters"
    effect    = "Allow"
    actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:PurgeQueue", "sqs:ReceiveMessage"]
    resources = [aws_sqs_queue.global_dlq.arn, local.any_cluster_dlq_arn]
  }

  # dlq without --cluster lists the queues under "<prefix>--". ListQueues has no resource-level permissions.
  statement {
    sid       = "ListDeadLetterQueues"
    effect    = "Allow"
    actions   = ["sqs:ListQueues"]
    resources = ["*"]
  }

  # resume, and dlq redrive of work a runner (or the router's supervisor) dead-lettered from a node queue.
  # Nothing is sent to the cluster queues yet, so nothing is dead-lettered from them: no SendMessage there.
  statement {
    sid       = "RequeueWork"
    effect    = "Allow"
    actions   = ["sqs:GetQueueUrl", "sqs:SendMessage"]
    resources = [local.any_node_queue_arn]
  }

  # plan and run --dry-run with discovery aws_tags (core/discovery/ec2-discovery.ts). No resource-level permissions.
  statement {
    sid       = "DiscoverNodes"
    effect    = "Allow"
    actions   = ["ec2:DescribeInstances"]
    resources = ["*"]
  }

  # Sending tasks to the global queue, and reading its dead-letter queue.
  dynamic "statement" {
    for_each = local.kms_enabled ? [var.kms_master_key_arn] : []
    content {
      sid       = "EncryptTasksDecryptDeadLetters"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_policy" "scheduler" {
  name        = "${local.policy_name_prefix}-scheduler"
  path        = var.policy_path
  description = "Taskerman scheduler and submitters: send tasks to ${local.global_queue_name}"
  policy      = data.aws_iam_policy_document.scheduler.json
  tags        = var.tags
}

resource "aws_iam_policy" "router" {
  name        = "${local.policy_name_prefix}-router"
  path        = var.policy_path
  description = "Taskerman router: consume ${local.global_queue_name}, create and fill cluster and node queues, describe EC2 instances"
  policy      = data.aws_iam_policy_document.router.json
  tags        = var.tags
}

resource "aws_iam_policy" "runner" {
  for_each = toset(var.clusters)

  # The 40-character segment keeps the name within IAM's characters and 128-character limit.
  name        = "${local.policy_name_prefix}-runner-${local.cluster_segments["40"][each.key]}"
  path        = var.policy_path
  description = "Taskerman runner of cluster ${each.key}: take work from its queues, dead-letter failures"
  policy      = data.aws_iam_policy_document.runner[each.key].json
  tags        = var.tags
}

resource "aws_iam_policy" "operator" {
  name        = "${local.policy_name_prefix}-operator"
  path        = var.policy_path
  description = "Taskerman operators (the CLI): send tasks, inspect, redrive and purge dead letters, resume tasks"
  policy      = data.aws_iam_policy_document.operator.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "scheduler" {
  for_each   = toset(var.scheduler_role_names)
  role       = each.value
  policy_arn = aws_iam_policy.scheduler.arn
}

resource "aws_iam_role_policy_attachment" "router" {
  for_each   = toset(var.router_role_names)
  role       = each.value
  policy_arn = aws_iam_policy.router.arn
}

resource "aws_iam_role_policy_attachment" "operator" {
  for_each   = toset(var.operator_role_names)
  role       = each.value
  policy_arn = aws_iam_policy.operator.arn
}

resource "aws_iam_role_policy_attachment" "runner" {
  for_each   = local.runner_attachments
  role       = each.value.role
  policy_arn = aws_iam_policy.runner[each.value.cluster].arn

  lifecycle {
    precondition {
      condition     = contains(var.clusters, each.value.cluster)
      error_message = "A runner_role_names key is not in clusters: add the cluster to clusters first."
    }
  }
}
