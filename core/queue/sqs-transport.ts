// How the SQS adapter reaches SQS: one call per API operation, input and output in the shapes of the SQS API
// reference (the JSON protocol's members, which are also the AWS SDK's command inputs and outputs). Two
// transports: SqsHttpTransport (sqs-http-transport.ts), the default, signs and sends the JSON protocol itself;
// SdkSqsTransport drives an AWS SDK SQSClient that a caller injects. Errors keep the service's shape either way:
// `name` is the error type (QueueDoesNotExist), `Code` the query-compatible code when the service sent one
// (AWS.SimpleQueueService.NonExistentQueue), `$metadata.httpStatusCode` the status.
import type * as sqs from '@aws-sdk/client-sqs';

export interface SqsOperations {
  ChangeMessageVisibility: [sqs.ChangeMessageVisibilityRequest, object];
  CreateQueue: [sqs.CreateQueueRequest, sqs.CreateQueueResult];
  DeleteMessage: [sqs.DeleteMessageRequest, object];
  DeleteQueue: [sqs.DeleteQueueRequest, object];
  GetQueueAttributes: [sqs.GetQueueAttributesRequest, sqs.GetQueueAttributesResult];
  GetQueueUrl: [sqs.GetQueueUrlRequest, sqs.GetQueueUrlResult];
  ListQueues: [sqs.ListQueuesRequest, sqs.ListQueuesResult];
  PurgeQueue: [sqs.PurgeQueueRequest, object];
  ReceiveMessage: [sqs.ReceiveMessageRequest, sqs.ReceiveMessageResult];
  SendMessage: [sqs.SendMessageRequest, sqs.SendMessageResult];
  SendMessageBatch: [sqs.SendMessageBatchRequest, sqs.SendMessageBatchResult];
}

export type SqsOperation = keyof SqsOperations;
export type SqsInput<K extends SqsOperation> = SqsOperations[K][0];
export type SqsOutput<K extends SqsOperation> = SqsOperations[K][1];

export interface SqsTransport {
  /** One API call, retried as the transport retries; rejects with the service's error, or AbortError. */
  call<K extends SqsOperation>(operation: K, input: SqsInput<K>, signal?: AbortSignal): Promise<SqsOutput<K>>;
  /** Where requests go, for messages: the endpoint URL, else "region <r>". */
  target(): Promise<string>;
  /** Closes idle connections; a transport is not used after. */
  destroy(): void;
}

type SdkModule = typeof import('@aws-sdk/client-sqs');
type CommandName = `${SqsOperation}Command`;

/**
 * An injected AWS SDK client behind the transport interface. The SDK module is imported when the first call
 * needs a command class (the caller, who built the client, has loaded it already).
 */
export class SdkSqsTransport implements SqsTransport {
  private module: Promise<SdkModule> | undefined;

  constructor(
    private readonly client: sqs.SQSClient,
    private readonly fallbackTarget: string,
  ) {}

  async call<K extends SqsOperation>(operation: K, input: SqsInput<K>, signal?: AbortSignal): Promise<SqsOutput<K>> {
    const m = await (this.module ??= import('@aws-sdk/client-sqs'));
    const Command = m[`${operation}Command` as CommandName] as unknown as new (input: SqsInput<K>) => Parameters<sqs.SQSClient['send']>[0];
    return (await this.client.send(new Command(input), signal ? { abortSignal: signal } : {})) as SqsOutput<K>;
  }

  async target(): Promise<string> {
    try {
      const ep = await this.client.config.endpoint?.();
      if (ep) return `${ep.protocol}//${ep.hostname}${ep.port ? `:${ep.port}` : ''}${ep.path}`;
      return `region ${await this.client.config.region()}`;
    } catch {
      return this.fallbackTarget;
    }
  }

  destroy(): void {
    // The client belongs to whoever injected it.
  }
}
