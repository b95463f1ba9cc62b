/** The one NestJS decorator the README shows, for type-checking its example without installing NestJS. */
export declare function Injectable(): ClassDecorator;
