// POST /v1/events without a Lambda: API Gateway calls Kinesis PutRecords itself, through a role
// that may put records on the `events` stream and nothing else. The request and response
// templates are lib/core/api/events-integration.ts's, shared with the local API, so both answer a
// batch the same way: per event, by position, accepted or not with an edge error code, never
// Kinesis's own messages (they name the stream, the shard and the account).
import { Aws, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { EDGE_ERRORS } from '../../core/api/errors';
import { eventsRequestTemplate, eventsResponseTemplate } from '../../core/api/events-integration';
import { grantKeyViaService } from './key-grants';

/** The stream the events go to and the key that encrypts it (IngestionStack fits). */
export interface EventsStreamTarget {
  readonly stream: kinesis.IStream;
  readonly encryptionKey: kms.IKey;
}

export interface ApiEventsIntegrationProps {
  readonly target: EventsStreamTarget;
  /** The API whose methods may assume the role (its trust policy names the API). */
  readonly restApi: apigw.IRestApi;
  /** The event field used as the partition key (platformResources().eventsStream.partitionKeyField). */
  readonly partitionKeyField: string;
}

/** What the client is told when PutRecords fails as a whole: retry the batch; the cause is in the execution log. */
export const EVENTS_UNAVAILABLE = {
  status: EDGE_ERRORS.unavailable,
  template: '{"error":{"code":"unavailable","message":"the event stream did not take the batch; send it again with backoff","request_id":"$context.requestId"}}',
} as const;

export class ApiEventsIntegration extends Construct {
  readonly role: iam.Role;
  readonly integration: apigw.AwsIntegration;
  /** The method responses the integration's responses map to; give them to the method. */
  readonly methodResponses: apigw.MethodResponse[];

  constructor(scope: Construct, id: string, props: ApiEventsIntegrationProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.role = new iam.Role(this, 'Role', {
      description: 'API Gateway: PutRecords on the events stream for POST /v1/events',
      // Only this API's methods, in this account, may use the role (no confused deputy).
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'execute-api', resource: props.restApi.restApiId, resourceName: '*' }) },
      }),
    });
    // PutRecords only (no PutRecord, no ListShards): what the integration calls. An SSE producer
    // needs kms:GenerateDataKey on the stream's key, and only through Kinesis.
    props.target.stream.grant(this.role, 'kinesis:PutRecords');
    grantKeyViaService(props.target.encryptionKey, this.role, 'kinesis', 'kms:GenerateDataKey');

    const json = { 'application/json': EVENTS_UNAVAILABLE.template };
    this.integration = new apigw.AwsIntegration({
      service: 'kinesis',
      action: 'PutRecords',
      integrationHttpMethod: 'POST',
      options: {
        credentialsRole: this.role,
        // Only a JSON body has a template: anything else is refused (415), never passed through.
        passthroughBehavior: apigw.PassthroughBehavior.NEVER,
        requestParameters: { 'integration.request.header.Content-Type': "'application/x-amz-json-1.1'" },
        requestTemplates: { 'application/json': eventsRequestTemplate(props.target.stream.streamName, props.partitionKeyField) },
        integrationResponses: [
          { statusCode: '200', responseTemplates: { 'application/json': eventsResponseTemplate() } },
          { statusCode: String(EVENTS_UNAVAILABLE.status), selectionPattern: '[45]\\d{2}', responseTemplates: json },
        ],
      },
    });
    this.methodResponses = [{ statusCode: '200' }, { statusCode: String(EVENTS_UNAVAILABLE.status) }];
  }
}
