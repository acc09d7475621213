// Who verified evidence says the host is: the ledger's key (cloud, account, instance id), the
// dstack project the rules map it to, and the instance name its tokens carry.
export interface VerifiedIdentity {
  cloud: 'aws' | 'gcp' | 'azure';
  // AWS account, GCP project id, Azure subscription.
  account: string;
  instanceId: string;
  project: string;
  // <cloud>:<account>:<instance id>
  instance: string;
  // The operator allows this instance to enroll again.
  reenroll: boolean;
}
