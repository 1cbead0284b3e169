// An Apache Iceberg table in the Glue Data Catalog, created by Glue from a table definition of
// lib/core/offline/tables.ts: the same field ids, types and day partitioning the local writer
// uses, so a file written either way reads the same.
//
// The table is declared the one way CloudFormation keeps an Iceberg table intact across updates:
// everything (schema, partition spec, properties) under OpenTableFormatInput.IcebergInput
// .IcebergTableInput, with MetadataOperation CREATE and format version 2, and no TableInput at
// all. Glue refuses a TableInput next to OpenTableFormatInput, and a schema given as
// StorageDescriptor columns loses `table_type=ICEBERG` on the first update.
import { Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ConfigError } from '../../core/errors';
import type { IcebergTableDefinition } from '../../core/iceberg/table-definition';
import type { IcebergType } from '../../core/iceberg/types';

export interface IcebergTableProps {
  /** The Glue database the table goes in; the table depends on it. */
  readonly database: glue.CfnDatabase;
  readonly databaseName: string;
  /** Columns, field ids and partitioning, shared with the local writer. */
  readonly definition: IcebergTableDefinition<unknown>;
  readonly bucket: s3.IBucket;
  /** Key prefix of the table's folder, ending in `/` (its data/ and metadata/ go under it). */
  readonly locationPrefix: string;
}

/** Glue's limit on a field's doc. */
const MAX_DOC_CHARS = 255;

/**
 * A field type as Glue's IcebergStructField.Type takes it: a primitive by name, a nested type as
 * the JSON of the Iceberg spec (CloudFormation types the property as a string).
 */
export function glueFieldType(type: IcebergType): string {
  return typeof type === 'string' ? type : JSON.stringify(type);
}

export class IcebergTable extends Construct {
  readonly table: glue.CfnTable;
  readonly tableName: string;
  readonly databaseName: string;
  /** `arn:…:glue:<region>:<account>:table/<database>/<table>`. */
  readonly tableArn: string;
  /** Key prefix of the table's files in the bucket, ending in `/`. */
  readonly locationPrefix: string;
  /** `s3://<bucket>/<prefix>`: the table location Glue records and Firehose writes under. */
  readonly location: string;
  readonly definition: IcebergTableDefinition<unknown>;
  private readonly bucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: IcebergTableProps) {
    super(scope, id);
    const { definition } = props;
    if (!props.locationPrefix.endsWith('/')) throw new ConfigError(`${definition.name}: locationPrefix must end with /`, 'locationPrefix');
    this.definition = definition;
    this.bucket = props.bucket;
    this.tableName = definition.name;
    this.databaseName = props.databaseName;
    this.locationPrefix = props.locationPrefix;
    this.location = `s3://${props.bucket.bucketName}/${props.locationPrefix}`;
    this.tableArn = Stack.of(this).formatArn({ service: 'glue', resource: 'table', resourceName: `${props.databaseName}/${definition.name}` });

    const fields: glue.CfnTable.IcebergStructFieldProperty[] = definition.schema.fields.map((field) => {
      if (field.doc && field.doc.length > MAX_DOC_CHARS) {
        throw new ConfigError(`${definition.name}.${field.name}: doc is ${field.doc.length} characters; Glue keeps at most ${MAX_DOC_CHARS}`, `${definition.name}.${field.name}`);
      }
      return { id: field.id, name: field.name, type: glueFieldType(field.type), required: field.required, ...(field.doc ? { doc: field.doc } : {}) };
    });

    this.table = new glue.CfnTable(this, 'Table', {
      catalogId: Stack.of(this).account,
      databaseName: props.databaseName,
      name: definition.name,
      openTableFormatInput: {
        icebergInput: {
          metadataOperation: 'CREATE',
          version: '2',
          icebergTableInput: {
            location: this.location,
            schema: { schemaId: definition.schema['schema-id'], type: 'struct', fields },
            partitionSpec: {
              specId: definition.partitionSpec['spec-id'],
              fields: definition.partitionSpec.fields.map((f) => ({ name: f.name, sourceId: f['source-id'], fieldId: f['field-id'], transform: f.transform })),
            },
            properties: {
              'format-version': '2',
              'write.format.default': 'parquet',
              comment: definition.doc,
            },
          },
        },
      },
    });
    this.table.node.addDependency(props.database);
  }

  /** The ARN pattern of every object of the table (data and metadata files): `<bucket>/<prefix>*`. */
  get objectsArn(): string {
    return this.bucket.arnForObjects(`${this.locationPrefix}*`);
  }
}
