#!/bin/bash
# LocalStack READY hook for the Taskerman demo (mounted at /etc/localstack/init/ready.d/, run by LocalStack once
# it serves requests; see https://docs.localstack.cloud/aws/capabilities/config/initialization-hooks/).
#
# Creates:
#   - the global queue <prefix>--global, with a RedrivePolicy to its dead-letter queue <prefix>--global-dlq;
#   - three EC2 instances tagged taskerman:cluster=cassandra:geo_counter and Name=cass-geo-1..3, for EC2-tag
#     discovery.
# Cluster and node queues are NOT created here: the router creates them (with their dead-letter queue) on the
# first fan-out to a cluster (router/router.ts `fanOut` / `ensure`). The names follow core/queue/queue-names.ts.
#
# Idempotent: CreateQueue with the same name and attributes returns the existing queue, and an instance is
# only launched when none with its Name and cluster tag exists. Re-run it by hand with
#   docker compose -f localstack/docker-compose.yml exec localstack /etc/localstack/init/ready.d/10-taskerman.sh
#
# The container does not have the Taskerman sources, so nothing here calls into the repository.
set -euo pipefail

log() { printf '[taskerman-init] %s\n' "$*"; }
die() { printf '[taskerman-init] ERROR: %s\n' "$*" >&2; exit 1; }

# --- settings ----------------------------------------------------------------------------------------------
# LocalStack requires credentials on every call (the init hooks docs say so too). Any alphanumeric access key
# such as "test" maps to account 000000000000 - the account the CLI reaches with AWS_ACCESS_KEY_ID=test.
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
# Queues and instances are per region in LocalStack: this must be the region the CLI uses (AWS_REGION / --region).
REGION="${TASKERMAN_DEMO_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$REGION" AWS_REGION="$REGION"
# Must equal the CLI's --queue-prefix / TASKERMAN_QUEUE_PREFIX (default "taskerman"); same rule as
# core/queue/queue-names.ts validatePrefix.
PREFIX="${TASKERMAN_QUEUE_PREFIX:-taskerman}"
[[ "$PREFIX" =~ ^[A-Za-z0-9_]{1,24}$ ]] || die "TASKERMAN_QUEUE_PREFIX \"$PREFIX\" must be 1-24 characters of letters, digits or _"

GLOBAL_QUEUE="${PREFIX}--global"
GLOBAL_DLQ="${PREFIX}--global-dlq"
# Same values as the router's defaults (router/router-options.ts: visibilitySec 60, maxReceiveCount 10), so the
# router's own CreateQueue on start finds identical attributes.
VISIBILITY_TIMEOUT=60
MAX_RECEIVE_COUNT=10

CLUSTER="cassandra:geo_counter"
NODES=(cass-geo-1 cass-geo-2 cass-geo-3)
# LocalStack's free image emulates EC2 with moto, which accepts any AMI id unless MOTO_ENABLE_AMI_VALIDATION is
# set; ami-760aaa0f (Amazon Linux) is in moto's default AMI catalog, so it is accepted either way. The compose
# file sets EC2_VM_MANAGER=mock so a licensed image does not try to start containers for these instances.
AMI="${TASKERMAN_DEMO_AMI:-ami-760aaa0f}"
INSTANCE_TYPE=t3.micro

# awslocal ships in the LocalStack image and points the AWS CLI at this LocalStack.
if command -v awslocal >/dev/null 2>&1; then
  lsaws() { awslocal --region "$REGION" "$@"; }
elif command -v aws >/dev/null 2>&1; then
  lsaws() { aws --endpoint-url http://localhost:4566 --region "$REGION" "$@"; }
else
  die "neither awslocal nor aws is on PATH in this container"
fi

# --- SQS: the global queue and its dead-letter queue --------------------------------------------------------
log "region $REGION, queue prefix $PREFIX"

dlq_url="$(lsaws sqs create-queue --queue-name "$GLOBAL_DLQ" --query QueueUrl --output text)"
[[ -n "$dlq_url" && "$dlq_url" != "None" ]] || die "create-queue $GLOBAL_DLQ returned no QueueUrl"
dlq_arn="$(lsaws sqs get-queue-attributes --queue-url "$dlq_url" --attribute-names QueueArn --query Attributes.QueueArn --output text)"
[[ "$dlq_arn" == arn:* ]] || die "cannot read the QueueArn of $GLOBAL_DLQ (got \"$dlq_arn\")"
log "dead-letter queue $GLOBAL_DLQ: $dlq_arn"

# RedrivePolicy is a JSON document carried as a string attribute; written exactly as the SQS adapter writes it
# (core/queue/sqs-work-queue.ts ensureQueue: JSON.stringify({deadLetterTargetArn, maxReceiveCount})).
redrive="$(printf '{"deadLetterTargetArn":"%s","maxReceiveCount":%d}' "$dlq_arn" "$MAX_RECEIVE_COUNT")"
attributes="$(printf '{"VisibilityTimeout":"%d","RedrivePolicy":"%s"}' "$VISIBILITY_TIMEOUT" "${redrive//\"/\\\"}")"
global_url="$(lsaws sqs create-queue --queue-name "$GLOBAL_QUEUE" --attributes "$attributes" --query QueueUrl --output text)"
[[ -n "$global_url" && "$global_url" != "None" ]] || die "create-queue $GLOBAL_QUEUE returned no QueueUrl"
log "global queue $GLOBAL_QUEUE: $global_url (VisibilityTimeout $VISIBILITY_TIMEOUT, maxReceiveCount $MAX_RECEIVE_COUNT)"

# --- EC2: tagged instances for EC2-tag discovery ------------------------------------------------------------
for node in "${NODES[@]}"; do
  existing="$(lsaws ec2 describe-instances \
    --filters "Name=tag:Name,Values=$node" "Name=tag:taskerman:cluster,Values=$CLUSTER" \
              "Name=instance-state-name,Values=pending,running,stopping,stopped" \
    --query 'Reservations[].Instances[].InstanceId' --output text)"
  if [[ -n "$existing" && "$existing" != "None" ]]; then
    log "instance $node already exists: $existing"
    continue
  fi
  tags="$(printf '[{"ResourceType":"instance","Tags":[{"Key":"Name","Value":"%s"},{"Key":"taskerman:cluster","Value":"%s"}]}]' "$node" "$CLUSTER")"
  id="$(lsaws ec2 run-instances --image-id "$AMI" --instance-type "$INSTANCE_TYPE" --count 1 \
    --tag-specifications "$tags" --query 'Instances[0].InstanceId' --output text)"
  [[ "$id" == i-* ]] || die "run-instances for $node returned \"$id\""
  log "instance $node: $id (taskerman:cluster=$CLUSTER)"
done

log "done"
